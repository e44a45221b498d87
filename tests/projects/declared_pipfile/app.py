import flask
import requests
import psycopg2
