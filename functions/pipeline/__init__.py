"""The detection pipeline's logic: plain Python that takes its collaborators (S3, the jobs table, Step Functions,
the DoveRunner client) as arguments. The handlers in the sibling folders only parse events and call it."""
