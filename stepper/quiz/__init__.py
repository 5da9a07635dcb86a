"""Predict before you look: questions from the trace, marked against the trace."""

from stepper.quiz.questions import Question, questions_for
from stepper.quiz.session import Score, Verdict, judge, mark, question_for, unreadable

__all__ = ["Question", "Score", "Verdict", "judge", "mark", "question_for", "questions_for", "unreadable"]
