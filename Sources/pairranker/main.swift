print("pairranker")
