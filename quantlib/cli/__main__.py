from quantlib.cli import main

main()
