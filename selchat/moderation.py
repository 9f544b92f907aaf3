"""Moderation: room operators, /op /deop /kick /ban /unban /mute /unmute
/invite /mode, and the checks a line, a /join and a /topic pass. A part of
`selchat.room.ChatRoom`, deciding over `selchat.accounts.authority`.

Who may (`selchat.accounts.authority.Authority.room_operator`, one rule for
every front): a server operator (``selchat admin op NAME``, or IRC's OPER)
anywhere; a room's operators in that room. Whoever makes a room (but the
default one) operates it while they stay in it, as on IRC; so does a member
given ``/op`` whose name is not registered. A registered name's role is kept
(the maker's too) and follows its account; a room whose kept rules name
operators is theirs, and its maker anew is not one (else anyone could take
over an emptied room's bans and modes). An invitation lasts until its member
joins the room or leaves the server (a rename takes it along), as on IRC:
kept in the rules, so with a bus its end holds on every node. In the default
room, a kick or a ban is from the server: a server ban holds the name (and its
look-alikes) and the banned member's address group.

Every action is told to the room, logged with who did it and kept (``Audit``),
and the rules are written to the data directory (``Persist``), so they survive
a restart. Pure: the wall clock is the authority's.
"""
import logging
from typing import TYPE_CHECKING, Callable, Dict, Generic, List, Optional, Set, Union

from selchat import wire
from selchat.accounts import commands
from selchat.accounts.commands import FLAGS
from selchat.accounts.authority import DEFAULT_MODES, Authority, RoomRules, Sanction
from selchat.effect_types import (
    Audit, Broadcast, Close, Effect, Keep, Persist, Presence, Send, Session, Unannounced,
)
from selchat.member_status import ROLE, STATUS, RemoteStatus
from selchat.moderation_nodes import PuttingOut
from selchat.names import name_key
from selchat.rooms import Room, Rooms, room_key
from selchat.sanitize import clean

log = logging.getLogger("selchat.room")

Target = Union[Room, List[Effect]]


class Moderation(PuttingOut[Session], Generic[Session]):
    """The moderation commands of `selchat.room.ChatRoom`, which sets these up."""

    authority: Authority[Session]
    rooms: Rooms[Session]
    members: Dict[Session, str]
    _owners: Dict[str, Session]
    _held: Dict[Session, str]
    remote_status: RemoteStatus

    if TYPE_CHECKING:  # ChatRoom's, used here
        def _room_of(self, session: Session, name: str, member: bool = True) -> Target:
            ...

        def release(self, session: Session) -> List[Effect]:
            ...

        def disconnect(self, session: Session, reason: str = "", now: float = 0.0,
                       quitting: bool = False) -> List[Effect]:
            ...

    # -- checks the room commands ask ---------------------------------------------

    def may_speak(self, session: Session, room: Room) -> Optional[str]:
        """Why a line of `session`'s is refused in `room` (muted, +m), or None:
        for a front that says a room line without a command (IRC's hot path)."""
        if room.key not in self.authority.restricted:
            return None
        name = self.members.get(session, "")
        return self.authority.speech_refusal(session, name_key(name), room.key, room.name)

    def _speech_refusal(self, session: Session, name: str, room: Room) -> Optional[List[Effect]]:
        """A line of `session`'s refused in `room` (muted, +m), or None."""
        refusal = self.authority.speech_refusal(session, name_key(name), room.key, room.name)
        return None if refusal is None else [Send(session, wire.error(refusal))]

    def outside_refusal(self, session: Session, room: Room) -> Optional[str]:
        """Why a line of `session`'s, not in `room`, is refused (+n, a ban), or
        None (-n): the lines from outside (`/msg #room`, IRC's PRIVMSG)."""
        name = self.members.get(session, "")
        return self.authority.outside_refusal(session, name_key(name), room.key, room.name)

    def _join_refusal(self, session: Session, name: str, room_name: str,
                      key: str) -> Optional[str]:
        room = self.rooms.get(room_name)
        members = 0 if room is None else len(room)
        shown = room_name if room is None else room.name
        return self.authority.join_refusal(session, name_key(name), room_key(room_name),
                                           shown, key, members)

    def _room_entered(self, session: Session, name: str, room: Room,
                      made: bool) -> List[Effect]:
        """`session` joined `room` (`made`: it made it): its maker operates
        it while there (a registered one for good); a room with rules says
        them, and a mute its end."""
        auth = self.authority
        key = auth.identified.get(session)
        rules = auth.rooms.get(room.key)
        kept = rules is not None  # rules from before: said to whoever joins
        effects = self._invitation_used(name, room, rules)
        if made and not room.default and (rules is None or not rules.ops):
            room.operators.add(session)
            if key is not None:
                if rules is None:
                    rules = auth.rooms[room.key] = RoomRules(room.name)
                rules.ops.add(key)
                effects.append(Persist("room", room.key, rules.value()))
            how = "" if key is not None else " while you stay in it"
            effects.append(Send(session, wire.notice(
                f"You are the operator of {room.name}{how} (/help lists the operators' "
                "commands).")))
        if rules is None or not kept:
            return effects
        effects.append(Send(session, self._rules_line(room, rules)))
        refusal = self._speech_refusal(session, name, room)
        return effects + refusal if refusal else effects

    def _invitation_used(self, name: str, room: Room,
                         rules: Optional[RoomRules]) -> List[Effect]:
        """An invitation of `name`'s to `room` is used by its join: gone on
        every node (the rules are written, and shared with a bus)."""
        key = name_key(name)
        if rules is None or key not in rules.invited:
            return []
        return [self._invitation_ends(rules, key)]

    def _invitation_ends(self, rules: RoomRules, key: str, to: str = "") -> Persist:
        """Name key `key`'s invitation in `rules` ends (or is name key `to`'s
        now), in step with `Authority.inviting`: written, so on every node."""
        rules.invited.discard(key)
        if to:
            rules.invited.add(to)
        self.authority.restrict(rules)
        return Persist("room", room_key(rules.name), rules.value())

    def _invitations_follow(self, name: str, new: str = "") -> List[Effect]:
        """Member `name` left the server (`new` ""), or is `new` now: its
        invitations, unused, end with it or follow it, as IRC's are the
        member's (a newcomer under the name gets none), on every node."""
        key, auth = name_key(name), self.authority
        to = name_key(new) if new else ""
        effects: List[Effect] = []
        for each in sorted(auth.inviting):  # the rooms with any: mostly none
            rules = auth.rooms.get(each)
            if rules is not None and key in rules.invited and to != key:
                effects.append(self._invitation_ends(rules, key, to))
        return effects

    def _rules_line(self, room: Room, rules: RoomRules) -> wire.ServerLine:
        """"Modes of #room: +mt; operators: a, b; voiced: c; muted: d (until ...)"."""
        now = self.authority.clock()
        parts = [f"Modes of {room.name}: {rules.modes()}"]
        for title, keys in (("operators", rules.ops), ("voiced", rules.voiced)):
            if keys:
                parts.append(f"{title}: " + ", ".join(sorted(self._shown(key) for key in keys)))
        muted = [f"{mute.name} ({mute.ending()})" for mute in rules.mutes.values()
                 if mute.active(now)]
        if muted:
            parts.append("muted: " + ", ".join(sorted(muted)))
        return wire.notice("; ".join(parts))

    def _shown(self, key: str) -> str:
        """A name key as its account spells it (else as it is)."""
        account = self.authority.accounts.get(key)
        return account.name if account else key

    def marks(self, room: Room) -> Optional[Callable[[str], str]]:
        """A name key's marks in `room`, as IRC's NAMES with multi-prefix
        writes them: "@" an operator (the room's, or a server operator), "+"
        voiced, "@+" both; None for a room with no operators, voices or rules
        (a client that never meets moderation sees what it always saw)."""
        auth = self.authority
        rules = auth.rooms.get(room.key)
        elsewhere = self.remote_status.operators(room)  # other nodes' makers, /op'd
        if rules is None and not room.operators and not elsewhere:
            return None
        ops: Set[str] = set(rules.ops) if rules is not None else set()
        ops |= elsewhere
        voiced: Set[str] = rules.voiced if rules is not None else set()
        opered = [each for each in auth.opered if room.has(each) and auth.operator(each)]
        for session in (*room.operators, *opered):  # by session: their names here
            ops.add(name_key(room.members.get(session) or room.away.get(session, "")))
        accounts = auth.accounts

        def mark(key: str) -> str:
            account = accounts.get(key)
            operator = key in ops or (account is not None and account.operator)
            return ("@" if operator else "") + ("+" if key in voiced else "")
        return mark

    def _marked(self, room: Room, shown: List[str]) -> List[str]:
        """The names of a listing of `room` (``/who #room``, a join's), marked
        (`marks`): "@teach", "+mia", "sam (muted)"."""
        mark = self.marks(room)
        if mark is None:
            return shown
        rules = self.authority.rooms.get(room.key)
        mutes = rules.mutes if rules is not None else {}
        now = self.authority.clock()
        marked = []
        for each in shown:  # "bob" or "bob (away)": names hold no space
            key = name_key(each.partition(" ")[0])
            mute = mutes.get(key)
            marked.append(mark(key)[:1] + each + (" (muted)" if mute and mute.active(now) else ""))
        return marked

    def listed(self, session: Session, room: Room) -> bool:
        """Whether `room` is shown to `session` in lists of rooms and names:
        a secret one (+s) only to its members (and server operators)."""
        return room.key not in self.authority.secret or room.has(session) or \
            self.authority.operator(session)

    def may_set_topic(self, session: Session, room: Room) -> Optional[str]:
        """Why `session` may not set `room`'s topic (+t), or None: for a front
        that changes a topic without the command (IRC's ``TOPIC #room :``)."""
        rules = self.authority.rooms.get(room.key)
        if rules is None or not rules.ops_topic or \
                self.authority.room_operator(session, room.key):
            return None
        return f"only operators set the topic of {room.name} (+t)"

    def _topic_refusal(self, session: Session, room: Room) -> Optional[List[Effect]]:
        refusal = self.may_set_topic(session, room)
        return None if refusal is None else [Send(session, wire.error(refusal))]

    def banned_elsewhere(self, key: str, ban: Sanction) -> List[Effect]:
        """A server ban made on another node (``--bus``): this node's member
        under that name (or a look-alike) goes, as if banned here. The ban
        was announced there, to every node."""
        member = self._owners.get(key)
        if member is None or not ban.active(self.authority.clock()):
            return []
        kept = self._ban_address(key, member, ban)  # only this node knows it
        if member in self._held:
            return [*kept, *self.release(member)]
        why = f" ({ban.reason})" if ban.reason else ""
        told = wire.error(f"you were banned from this server by {ban.by} {ban.ending()}{why}")
        return [*kept, Send(member, told), Close(member),
                *self.disconnect(member, f"banned by {ban.by}", quitting=True)]

    # -- helpers ------------------------------------------------------------------

    def _operated(self, session: Session, room_name: str) -> Target:
        """The room (current if ""), if `session` is its operator or a server's."""
        room = self._room_of(session, room_name, member=False)
        if isinstance(room, list):
            return room
        if not self.authority.room_operator(session, room.key):
            return [Send(session, wire.error(f"you are not an operator of {room.name}"))]
        return room

    def _rules(self, room: Room) -> RoomRules:
        return self.authority.rooms.setdefault(room.key, RoomRules(room.name))

    def _announce(self, by: str, room: Room, action: str, target: str, text: str,
                  detail: str = "", presence: Optional[Presence] = None) -> List[Effect]:
        """Told to the room (the actor too), logged and kept with who did it;
        `presence`: a member it put out, for the other nodes' lists."""
        rules = self._rules(room)
        self.authority.restrict(rules)
        line = wire.notice(text)
        where = None if room.default else room
        return [Broadcast(line, presence=presence, room=where),
                Persist("room", room.key, rules.value()),
                Audit(by, action, target, room.name, detail)]

    def _sanction(self, by: str, target: str, seconds: Optional[float],
                  reason: str = "") -> Sanction:
        """A ban or mute of `target` by `by` for `seconds` (None: until lifted)."""
        until = None if seconds is None else self.authority.clock() + seconds
        return Sanction(clean(target), until, clean(reason), by)

    def _tell(self, name: str, line: wire.ServerLine) -> List[Effect]:
        """A line for the member named `name` here (kept if held), if any."""
        target = self._owners.get(name_key(name))
        if target is None:
            return self._told_elsewhere(name, line)
        return [Keep(target, line) if target in self._held else Send(target, line)]

    # -- commands -----------------------------------------------------------------

    def _do_op(self, session: Session, name: str, command: commands.Op) -> List[Effect]:
        return self._set_op(session, name, command.room, command.name, True)

    def _do_deop(self, session: Session, name: str, command: commands.Deop) -> List[Effect]:
        return self._set_op(session, name, command.room, command.name, False)

    def _set_op(self, session: Session, name: str, room_name: str, target: str,
                on: bool) -> List[Effect]:
        """A registered name's role is kept (present or not); a member whose
        name is not registered operates the room while it stays, here or on
        its node (told first by a role entry: `selchat.member_status`)."""
        room = self._operated(session, room_name)
        if isinstance(room, list):
            return room
        key = name_key(target)
        account = self.authority.accounts.get(key)
        member = self._owners.get(key)
        remote = self._remote.get(key) if member is None else None
        here = member is not None and room.has(member)
        there = remote is not None and key in room.remote
        # While it stays: a maker's role, or an unregistered name's (on its node, if there).
        staying = (here and member in room.operators) or \
            (there and key in self.remote_status.operators(room))
        if account is not None:  # kept, and its account's wherever it is
            shown = account.name
            operates = key in self._rules(room).ops or staying
        elif member is None and remote is None:
            return [Send(session, wire.error(f"no such user: {clean(target)}"))]
        elif not (here or there):
            return [Send(session, wire.error(f"{clean(target)} is not in {room.name}"))]
        else:
            shown = remote[0] if remote is not None else room.members.get(member) or clean(target)
            operates = staying
        if operates == on:
            return [Send(session, wire.error(
                f"{shown} is {'already' if on else 'not'} an operator of {room.name}"))]
        if account is not None:
            ops = self._rules(room).ops
            (ops.add if on else ops.discard)(key)
        told: List[Effect] = []
        if account is None or not on:  # the role while it stays (taken: any)
            if here:  # the other nodes learn it from its status, after the announcement
                (room.operators.add if on else room.operators.discard)(member)
            elif there:  # its node gives it; every node counts it at once
                self.remote_status.role(shown, room.key, on)
                told = [Unannounced(Presence(ROLE, shown, "+" if on else "-"), room)]
        text = (f"{name} made {shown} an operator of {room.name}" if on
                else f"{name} took {shown}'s operator role in {room.name}")
        announced = self._announce(name, room, "op" if on else "deop", shown, text)
        if here:
            announced.append(Unannounced(Presence(STATUS, shown)))
        return [*told, *announced]

    def _do_kick(self, session: Session, name: str, command: commands.Kick) -> List[Effect]:
        room = self._operated(session, command.room)
        if isinstance(room, list):
            return room
        reason = clean(command.reason)
        return self._put_out(session, name, room, command.name, "kicked", reason) or \
            [Send(session, wire.error(f"{clean(command.name)} is not in {room.name}"))]

    def _put_out(self, session: Session, name: str, room: Room, target: str, how: str,
                 reason: str, until: str = "") -> List[Effect]:
        """Kick the member named `target` out of `room` (the default room: off
        the server); [] if it is not there. A member of another node: its node
        does it (`selchat.moderation_nodes`)."""
        member = self._owners.get(name_key(target))
        if member is None:
            return self._put_out_elsewhere(name, room, target, how, reason, until)
        # Off the server, anyone on it (an IRC client may be out of the default room).
        if not (room.has(member) or (room.default and (
                member in self.members or member in self._held))):
            return []
        shown = self.members.get(member) or self._held.get(member) or target
        told, text = self._put_out_lines(name, room, shown, how, reason, until)
        # Out of a room, the other nodes drop it from their lists at this line.
        left = None if room.default else Presence("-", shown)
        return [*self._announce(name, room, how, shown, text, reason, left),
                *self.remove(member, room, told, f"{how} by {name}")]

    def _do_ban(self, session: Session, name: str, command: commands.Ban) -> List[Effect]:
        room = self._operated(session, command.room)
        if isinstance(room, list):
            return room
        auth, key = self.authority, name_key(command.name)
        ban = self._sanction(name, command.name, command.duration, command.reason)
        shown, ending = ban.name, f" {ban.ending()}"
        if room.default:  # the server: the name, and the address it comes from
            member = self._owners.get(key)
            ban.address = "" if member is None else auth.groups.get(member, "")
            auth.bans[key] = ban
            effects: List[Effect] = [Persist("ban", key, ban)]
        else:
            self._rules(room).bans[key] = ban
            effects = []
        out = self._put_out(session, name, room, command.name, "banned", ban.reason, ending)
        if out:
            return [*effects, *out]
        why = f" ({ban.reason})" if ban.reason else ""
        return [*effects, *self._announce(name, room, "banned", shown,
                                          f"{name} banned {shown} from {room.name}{ending}{why}",
                                          ban.reason)]

    def _do_unban(self, session: Session, name: str, command: commands.Unban) -> List[Effect]:
        room = self._operated(session, command.room)
        if isinstance(room, list):
            return room
        key = name_key(command.name)
        table = self.authority.bans if room.default else self._rules(room).bans
        ban = table.pop(key, None)
        if ban is None:
            return [Send(session, wire.error(f"{clean(command.name)} is not banned "
                                             f"from {room.name}"))]
        effects: List[Effect] = [Persist("ban", key, None)] if room.default else []
        return [*effects, *self._announce(name, room, "unbanned", ban.name,
                                          f"{name} lifted the ban on {ban.name} in {room.name}")]

    def _do_mute(self, session: Session, name: str, command: commands.Mute) -> List[Effect]:
        room = self._operated(session, command.room)
        if isinstance(room, list):
            return room
        mute = self._sanction(name, command.name, command.duration)
        shown = mute.name
        self._rules(room).mutes[name_key(command.name)] = mute
        return [*self._announce(name, room, "muted", shown,
                                f"{name} muted {shown} in {room.name} {mute.ending()}"),
                *self._tell(command.name, wire.error(
                    f"you are muted in {room.name} {mute.ending()} by {name}"))]

    def _do_unmute(self, session: Session, name: str, command: commands.Unmute) -> List[Effect]:
        room = self._operated(session, command.room)
        if isinstance(room, list):
            return room
        mute = self._rules(room).mutes.pop(name_key(command.name), None)
        if mute is None:
            return [Send(session, wire.error(f"{clean(command.name)} is not muted "
                                             f"in {room.name}"))]
        return self._announce(name, room, "unmuted", mute.name,
                              f"{name} unmuted {mute.name} in {room.name}")

    def _do_invite(self, session: Session, name: str, command: commands.Invite) -> List[Effect]:
        room = self._operated(session, command.room)
        if isinstance(room, list):
            return room
        if room.default:
            return [Send(session, wire.error("everyone is in the default room already"))]
        shown = clean(command.name)
        if name_key(command.name) not in self._owners and name_key(command.name) \
                not in self._remote:
            return [Send(session, wire.error(f"no such user: {shown}"))]
        self._rules(room).invited.add(name_key(command.name))
        return [*self._announce(name, room, "invited", shown,
                                f"{name} invited {shown} to {room.name}"),
                *self._tell(command.name, wire.notice(
                    f"{name} invites you to {room.name}: /join {room.name}"))]

    def _do_mode(self, session: Session, name: str, command: commands.Mode) -> List[Effect]:
        if not command.change:
            room = self._room_of(session, command.room, member=False)
            if isinstance(room, list):
                return room
            rules = self.authority.rooms.get(room.key)
            if rules is None:
                return [Send(session, wire.notice(f"Modes of {room.name}: {DEFAULT_MODES}"))]
            return [Send(session, self._rules_line(room, rules))]
        room = self._operated(session, command.room)
        if isinstance(room, list):
            return room
        rules = self._rules(room)
        on, flag, argument = command.change[0] == "+", command.change[1], command.argument
        if flag == "v" or (on and flag in "kl"):
            if not argument or " " in argument or (flag == "l" and not (
                    argument.isdecimal() and argument.isascii() and int(argument) > 0)):
                what = {"v": "NAME", "k": "KEY", "l": "N"}[flag]
                return [Send(session, wire.error(
                    f"usage: /mode [#ROOM] {command.change} {what}"))]
        if flag == "v":
            (rules.voiced.add if on else rules.voiced.discard)(name_key(argument))
            shown = clean(argument)
            text = (f"{name} gave {shown} a voice in {room.name}" if on
                    else f"{name} took {shown}'s voice in {room.name}")
            return self._announce(name, room, command.change, shown, text)
        if flag in FLAGS:
            for each in command.change[1:]:
                self._set_flag(rules, each, on)
        elif flag == "k":
            rules.key = clean(argument) if on else ""
        else:
            rules.limit = int(argument) if on else 0
        shown = command.change + (f" {argument}" if on and flag in "kl" else "")
        return self._announce(name, room, "mode", shown,
                              f"{name} set mode {shown} on {room.name}")

    def _set_flag(self, rules: RoomRules, flag: str, on: bool) -> None:
        """One of the modes without an argument (`selchat.accounts.commands.FLAGS`)."""
        if flag == "i":
            rules.invite_only = on
        elif flag == "m":
            rules.moderated = on
        elif flag == "n":
            rules.outside = not on
        elif flag == "t":
            rules.ops_topic = on
        else:
            rules.secret = on
            self.rooms.version += 1  # /rooms shows it, or not

