import pytest

import mypkg
