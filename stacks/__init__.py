"""CDK code of the DoveRunner detection app: one stack, one construct per concern."""
