"""A channel's topic as IRC servers give it, on JOIN and on ``TOPIC #chan``:
``332`` (RPL_TOPIC) with the text, then ``333`` (RPL_TOPICWHOTIME) with who
set it and when: ``<nick> <channel> <setter> <unix seconds>``. The setter is
a full mask, ``name!name@host``, as the ``TOPIC`` line that said it showed
its source (`selchat.irc.render.mask`), and as most servers write it. A
topic kept by a selchat that did not keep its setter has no ``333``.
"""
from typing import List, Optional

from selchat.irc import numerics as N
from selchat.irc.queries import Queries
from selchat.irc.render import mask
from selchat.topics import Topic


def topic_replies(session: Queries, channel: str, topic: Optional[Topic]) -> List[bytes]:
    """``332`` and ``333`` of `channel`'s `topic`; nothing for none."""
    if topic is None or not topic.text:
        return []
    out = [session.reply_text(N.RPL_TOPIC, channel, topic.text)]
    if topic.by:
        out.append(session.reply(N.RPL_TOPICWHOTIME, channel, mask(topic.by, session.host),
                                 str(topic.at_ms // 1000)))
    return out
