"""How builder pages reach the database that app.py opened at start-up."""

from nicegui import app

from storage.db import Database


def database() -> Database:
    return app.state.referflow_database
