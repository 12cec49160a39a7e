"""Tests of the local AWS harness (doverunner_local.aws); a package so that its modules import each other."""
