"""The one exception users see for bad input."""


class InputError(ValueError):
    """Bad user input (file, array or argument). Its message is one line, fit for a command line."""
