import mypkg
import seaborn
