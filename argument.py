"""The engine's command-line options (defined in :mod:`PaymentProcess.argument`)."""

from PaymentProcess.argument import RunOptions, build_arg_parser, parse_args, validate_args

__all__ = ["RunOptions", "build_arg_parser", "parse_args", "validate_args"]
