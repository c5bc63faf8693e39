"""`python -m shopbridge` is the `shopbridge` command (how a rehearsal starts its processes)."""

from shopbridge.cli import main

if __name__ == "__main__":
    main(prog_name="shopbridge")
