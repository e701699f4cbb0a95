"""The adversarial corpus of issue 9: hostile or broken submissions and their expected outcomes."""
