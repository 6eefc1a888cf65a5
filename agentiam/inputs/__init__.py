"""Reading every input (agent specs, stack configs, the files a stack config references) one way, on disk and in git.

`files` opens inputs and refuses what is not a regular file; `references` declares which stack-config fields name
a file, reads those files through the same reader and checks their format.
"""
