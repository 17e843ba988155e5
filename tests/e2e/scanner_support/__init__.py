"""Helpers for the scanner app's browser tests: registration and checkin composed on one
origin (as ``tomoni up`` serves them), and a fake camera that films a ticket."""
