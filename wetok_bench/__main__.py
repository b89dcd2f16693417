"""`python -m wetok_bench ...` (the form torchrun launches) runs the CLI."""

from wetok_bench.cli.main import main

if __name__ == "__main__":
    main()
