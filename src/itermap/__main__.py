"""`python -m itermap`: the `itermap` command."""

from itermap.cli import main

main()
