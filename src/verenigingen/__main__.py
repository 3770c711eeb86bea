from verenigingen.cli.app import main

main()
