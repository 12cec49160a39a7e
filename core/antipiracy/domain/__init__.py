"""Plain values and rules of the product: no I/O, no AWS client."""
