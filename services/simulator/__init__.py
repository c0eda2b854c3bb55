"""The simulator: virtual-plc servers for the config store's PLCs, with values that keep changing."""
