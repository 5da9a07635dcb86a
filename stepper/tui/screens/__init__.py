"""The app's screens: the stepper itself, help, errors and loading."""
