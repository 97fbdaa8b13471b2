"""(being ported; see issue 8)"""
