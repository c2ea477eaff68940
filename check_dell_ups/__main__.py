"""python -m check_dell_ups: the check plugin."""

from check_dell_ups.cli import main

if __name__ == "__main__":
    main()
