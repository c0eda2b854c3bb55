"""The operator's command line, installed as ``scada``."""
