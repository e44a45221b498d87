# A Python 2 script: ast cannot read it, imports must still be found.
import urllib2
import cPickle
from StringIO import StringIO
import requests

print "fetching"
try:
    import simplejson as json
except ImportError, e:
    import json
