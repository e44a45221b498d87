import google.cloud.storage
from google.cloud import bigquery, pubsub_v1
from azure.storage.blob import BlobServiceClient
from azure.identity import DefaultAzureCredential
from google.protobuf import message
import sklearn
import cv2
from PIL import Image
import bs4
import dateutil.parser
import attr
