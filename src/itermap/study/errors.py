"""Errors a user can fix: the command line prints them as one line and exits with code 2."""

from __future__ import annotations


class StudyError(Exception):
    """A study cannot run as asked (folder holds another study, folder locked, data shape mismatch)."""


class SpecError(StudyError):
    """A study spec is malformed: the message names the file, the key and what is allowed."""
