Console.WriteLine("dino-node");
