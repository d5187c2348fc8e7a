"""Sanad's Telegram front end."""
