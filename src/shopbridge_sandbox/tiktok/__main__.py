"""`python -m shopbridge_sandbox.tiktok [port] [clock_factor]`."""

import sys

from shopbridge_sandbox.tiktok.cli import serve

if __name__ == "__main__":
    arguments = [*sys.argv[1:], "", ""]
    serve(int(arguments[0] or 8100), clock_factor=float(arguments[1] or 1.0))
