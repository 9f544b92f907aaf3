"""The command line both baseline peers share, so the bench starts them alike."""
import argparse


def parse(description: str) -> argparse.Namespace:
    """--host, --port and --max-clients, with the defaults of `selchat serve`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4000)
    parser.add_argument("--max-clients", type=int, default=10000)
    return parser.parse_args()
