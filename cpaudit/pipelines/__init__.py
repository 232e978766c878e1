"""One function per subcommand: options in, result out, files written."""
