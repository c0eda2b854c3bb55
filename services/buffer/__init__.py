"""The buffer stage: the ring of tag values between the pollers and the writers."""
