"""nbgrader configuration of the book's homework (used by `make homework`, i.e. tools/homework.py).

The course directory is generated under _build/homework/ from the chapter notebooks: nothing nbgrader writes
lands outside _build/.
"""

import os

c = get_config()  # noqa: F821 (injected by traitlets when nbgrader loads this file)

root = os.environ.get("REGBOOK_HOMEWORK_ROOT", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                            "_build", "homework"))
c.CourseDirectory.root = root
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(root, "gradebook.db")
c.CourseDirectory.course_id = "regularization-hands-on"

# What a student sees in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Chapters train networks: nbgrader's default of 30 s per cell is far too short.
c.Execute.timeout = int(os.environ.get("REGBOOK_HOMEWORK_TIMEOUT", "900"))
if os.environ.get("REGBOOK_HOMEWORK_KERNEL"):
    c.Execute.kernel_name = os.environ["REGBOOK_HOMEWORK_KERNEL"]
