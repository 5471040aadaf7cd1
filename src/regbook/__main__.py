try:
    from regbook.cli import main
except KeyboardInterrupt:  # Ctrl-C while MXNet and the chapters are still being imported
    import sys

    print("interrupted (Ctrl-C); no file was written", file=sys.stderr)
    raise SystemExit(130) from None

raise SystemExit(main())
