from toolkit.cli import script

script()
