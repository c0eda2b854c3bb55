"""The writer stage: leases batches from the buffer and stores them in the historian."""
