"""AWS errors raised by handlers and rendered by the protocol codecs."""


class AwsError(Exception):
    """An error AWS would return. `code` is the wire code (e.g. DBInstanceNotFound)."""

    def __init__(self, code, message="", status=None, sender=True):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status      # None: looked up in the service model, else 400
        self.sender = sender


def missing(name):
    return AwsError("MissingParameter", f"The request must contain the parameter {name}")


def invalid(message):
    return AwsError("InvalidParameterValue", message)


def combination(message):
    return AwsError("InvalidParameterCombination", message)
