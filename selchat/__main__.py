"""`python -m selchat` runs the same command line as the `selchat` script."""
from selchat.cli import main

main()
