"""The adversarial corpus: hostile or broken submissions and their expected outcomes."""
