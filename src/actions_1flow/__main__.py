"""`python -m actions_1flow …` runs the `actions-1flow` command."""

from .cli import main

main()
