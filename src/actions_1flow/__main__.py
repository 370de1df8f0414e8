"""`python -m actions_1flow …` runs the `actions-1flow` command."""

from .cli import main

if __name__ == "__main__":  # not when a child process of the evaluator (multiprocessing's spawn) imports it
    main()
