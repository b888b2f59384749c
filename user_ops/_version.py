#: The version of this user_ops (PEP 440); ``python -m user_ops --version`` prints it.
__version__ = "0.1.0.dev0"
