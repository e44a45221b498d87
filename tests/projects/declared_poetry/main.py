import pandas
import requests
import rich
