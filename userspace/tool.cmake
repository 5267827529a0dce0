# The ramcrypt tool and its host tests.
