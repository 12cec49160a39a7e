"""The ports over AWS: each adapter wraps one boto3 client or table and speaks the port's language."""
