from .models import np
