"""Tests of the sandbox emulators, through the official clients only."""
