"""Statistics computed the way SageMaker Model Monitor computes them."""
