"""The chat in a browser: ``python app.py [flags]`` is ``assistant serve [flags]``."""
import sys
from assistant.cli import main
sys.exit(main(["serve", *sys.argv[1:]]))
