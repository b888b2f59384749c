"""``python -m user_ops``: see [`user_ops.cli`][]."""

from user_ops.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
