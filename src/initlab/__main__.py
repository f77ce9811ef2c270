from initlab.cli import entry_point

entry_point()
